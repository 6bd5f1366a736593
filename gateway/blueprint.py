"""flask-smorest Blueprint whose bad input is a 400 naming the field (webargs says 422)."""
import flask_smorest
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    """400 naming the field, and unknown query parameters are refused like unknown body
    fields (a typo in a filter must not silently return everything)."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": "raise", "querystring": "raise"}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
