"""The Flask application the CMS and the moderators talk to."""
