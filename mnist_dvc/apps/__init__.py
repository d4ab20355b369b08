"""The commands that are not stages: fetch the raw data, predict on people's images, serve the draw-a-digit page."""
