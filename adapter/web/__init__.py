"""Pages served by the app: the sampling point page (static HTML, JS and CSS; docs/sampling.md)."""
