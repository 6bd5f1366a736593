"""flask-smorest Blueprint whose bad input is a 400 naming the field (webargs says 422)."""
import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser

from common import contracts


class Parser(FlaskParser):
    """400 naming the field, and unknown query parameters are refused like unknown body
    fields (a typo in a filter must not silently return everything)."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": "raise", "querystring": "raise"}

    def _get_schema(self, argmap, req):
        """One instance per schema class (``common.contracts.schema``): webargs would build
        (and deep-copy the fields of) a new one on every request. Loading keeps no state."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return contracts.schema(argmap)
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
