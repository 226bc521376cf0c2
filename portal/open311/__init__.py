"""Open311 GeoReport v2: existing civic-issue clients file and follow repair requests."""
