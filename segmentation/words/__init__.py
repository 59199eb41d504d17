"""Words and number style shared by the report and the dashboard: the mart holds numbers, these modules say them."""
