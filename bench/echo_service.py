"""A trivial nameko service for the RPC overhead benchmark: ``echo(x)`` returns ``x``.

Run by bench/rpc.py as ``nameko run --config deploy/nameko.yaml bench.echo_service:EchoService``
(the platform's nameko configuration), so the only difference from a real service is
that the entrypoint does nothing.
"""
from nameko.rpc import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, payload):
        return payload
