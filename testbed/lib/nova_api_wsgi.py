"""gunicorn entry point for nova-api: nova.wsgi.osapi_compute hands sys.argv to oslo.config,
which would choke on gunicorn's own arguments, so reset it before the import."""
import sys
sys.argv = ['nova-api-os-compute']
from nova.wsgi.osapi_compute import application  # noqa: E402,F401
