"""Rate-limit keys (gateway/ratelimit.py): who counts against the same budget."""
import pytest

from gateway.ratelimit import client_key, ip_key


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same subscriber, same budget
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 seen through an IPv6 socket
    ("unknown", "unknown"),
])
def test_ip_key(address, key):
    assert ip_key(address) == key


def test_accounts_and_sessions_never_share_a_key():
    same = "0b5f5a3e-8f1e-4a0e-9a57-3c1f2b7d9e10"
    assert client_key(same, None) != client_key(None, same)
    assert client_key(same, "any-session") == client_key(same, "another-session")  # an account, wherever it is
