"""The OpenAPI 3 document of /api/v1; each domain adds its paths to PATHS."""

from __future__ import annotations

from typing import Any

from portal.api.contract import complete

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


PATHS: dict[str, dict[str, Any]] = {
    "/auth/token": {
        "post": {
            "summary": "Exchange username and password for a bearer token",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                                "totp": {
                                    "type": "string",
                                    "description": "TOTP code or recovery code; staff roles "
                                    "with two-factor only",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "Token issued",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Token"}}
                    },
                },
                "401": _error("Wrong credentials, or code totp_required"),
                "422": _error("Missing fields"),
                "429": _error("Too many failed attempts"),
            },
        }
    },
    "/me": {
        "get": {
            "summary": "The authenticated user, roles and owned units",
            "responses": {
                "200": {
                    "description": "Me",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Me"}}
                    },
                },
                "401": _error("No or expired token"),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "properties": {
            "token": {"type": "string"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "roles", "units"],
        "properties": {
            "username": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "units": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "community", "area_m2"],
                    "properties": {
                        "code": {"type": "string"},
                        "community": {"type": "string"},
                        "area_m2": {"type": "string", "description": "two decimals"},
                    },
                },
            },
        },
    },
}


# Operations behind a rate limit (Flask-Limiter answers 429 with Retry-After).
RATE_LIMITED = {"POST /auth/token", "POST /payments"}


def build_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    complete(PATHS, SCHEMAS, limited=RATE_LIMITED)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clearfee (明账) API",
            "version": "1.0.0",
            "description": "Property-fee transparency portal. Amounts are integer fen.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
