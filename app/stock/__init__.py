"""Stock and availability: what each shop may promise, from the suppliers' stock."""
