"""The notification inbox, preferences, one-click unsubscribe, and the operators' view of
e-mail deliveries (notifications service)."""
from flask import g
from flask_smorest import abort

from gateway import schemas
from gateway.auth import caller, login_required
from gateway.blueprint import Blueprint
from gateway.rpc import call

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications")
BEARER = [{"bearerAuth": []}]


@blp.get("/me/notifications")
@blp.arguments(schemas.NotificationFilter, location="query")
@blp.response(200, schemas.NotificationPage)
@blp.doc(security=BEARER)
@login_required
def inbox(filters):
    """The inbox, newest first (unread=true for unread only)"""
    return call("notifications", "list_notifications", g.claims["sub"], filters)


@blp.post("/me/notifications/<int:notification_id>/read")
@blp.response(200, schemas.Notification)
@blp.alt_response(404, schema=schemas.ApiError)
@blp.doc(security=BEARER)
@login_required
def read(notification_id):
    """Mark one notification read"""
    return call("notifications", "mark_read", g.claims["sub"], notification_id)


@blp.post("/me/notifications/read-all")
@blp.response(200, schemas.Updated)
@blp.doc(security=BEARER)
@login_required
def read_all():
    """Mark every notification read"""
    return call("notifications", "mark_all_read", g.claims["sub"])


@blp.get("/me/notification-preferences")
@blp.response(200, schemas.Preferences)
@blp.doc(security=BEARER)
@login_required
def preferences():
    """Per kind of notification: immediate, daily, weekly or off"""
    return call("notifications", "get_preferences", g.claims["sub"])


@blp.put("/me/notification-preferences")
@blp.arguments(schemas.PreferencesUpdate)
@blp.response(200, schemas.Preferences)
@blp.alt_response(400, schema=schemas.ApiError, description="unknown kind or frequency")
@blp.doc(security=BEARER)
@login_required
def set_preferences(body):
    """Change how each kind of notification reaches you"""
    return call("notifications", "set_preferences", g.claims["sub"], body["preferences"])


@blp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@blp.response(200, schemas.Unsubscribed)
@blp.alt_response(400, schema=schemas.ApiError, description="invalid or expired link")
def unsubscribe(token):
    """One-click unsubscribe from a mail's link (no login; RFC 8058 POST too)"""
    return call("notifications", "unsubscribe", token)


@blp.get("/admin/deliveries")
@blp.arguments(schemas.DeliveryFilter, location="query")
@blp.response(200)
@blp.alt_response(403, schema=schemas.ApiError, description="admins only")
@blp.doc(security=BEARER)
@login_required
def deliveries(filters):
    """E-mail deliveries for operators: pending, sent, failed (with the last error), skipped"""
    if "admin" not in (caller() or {}).get("roles", []):
        abort(403, message="admins only")
    return call("notifications", "delivery_report", filters)
