"""Maps: folium maps drawn from result tables; compute nothing."""
