"""Views: HTML pages and the JSON API. They call services; they never speak SQL."""
