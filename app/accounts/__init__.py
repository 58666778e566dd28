"""People who use Kontor (users with roles) and the API tokens that act for them."""
