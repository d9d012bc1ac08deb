"""Geography: study areas and boundaries, point-in-polygon, the H3 grid."""
