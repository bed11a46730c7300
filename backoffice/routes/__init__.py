"""One module per resource. Every router carries its full path (``API`` + resource), so a
route's ``path`` is the URL template clients use (metrics labels, the role table)."""

API = "/api/v1"
