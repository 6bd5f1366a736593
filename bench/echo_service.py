"""Trivial nameko services for the RPC overhead benchmark: ``echo(x)`` returns ``x``.

Run by bench/rpc.py as ``nameko run --config deploy/nameko.yaml bench.echo_service:EchoService``
(the platform's nameko configuration), so the only difference from a real service is
that the entrypoint does nothing:

* ``EchoService`` (``bench_echo``) uses the platform's ``rpc`` entrypoint
  (``common.nameko_support``), as every service does;
* ``StockEchoService`` (``bench_echo_stock``) uses nameko's own ``@rpc``: the same
  service as nameko ships it, measured in the same run for comparison.
"""
from nameko.rpc import rpc as nameko_rpc

from common.nameko_support import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, payload):
        return payload


class StockEchoService:
    name = "bench_echo_stock"

    @nameko_rpc
    def echo(self, payload):
        return payload
