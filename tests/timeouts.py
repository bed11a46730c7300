"""The one constant every test timeout derives from."""

TIMEOUT = 10.0
