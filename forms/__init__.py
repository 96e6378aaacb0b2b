"""WTForms forms, one module per area, on one shared base."""
