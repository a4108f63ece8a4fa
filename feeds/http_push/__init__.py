"""HTTP push adapter: sources POST samples and work-order events to the web server."""
