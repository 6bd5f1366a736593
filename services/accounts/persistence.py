"""Accounts persistence: SQLAlchemy models and queries. Owns the ``accounts`` database."""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common.db import infra_tables

metadata = sa.MetaData()
infra_tables(metadata)


def _now():
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = metadata


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    postcode: Mapped[str | None] = mapped_column(sa.String(16))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=_now)
    roles: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    moderated: Mapped[list["ModeratorQuestion"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=_now)


class ModeratorQuestion(Base):
    __tablename__ = "moderator_questions"
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class LoginFailure(Base):
    """Consecutive failed logins per e-mail (known or not, so throttling tells nothing)."""

    __tablename__ = "login_failures"
    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


def user_by_email(session, email: str) -> User | None:
    return session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()


def user_by_id(session, user_id: str) -> User | None:
    return session.get(User, user_id)


def login_failure(session, email: str, for_update=False) -> LoginFailure | None:
    query = sa.select(LoginFailure).where(LoginFailure.email == email)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def as_aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
