#!/usr/bin/env bash
# Steer the colour where you know better: hints, a reference photo, a coloured keyframe.
set -euo pipefail
photos=../shared/data/bw_photos
# 1. hints: {"points": [{"x": .., "y": .., "color": "#rrggbb", "radius": ..}]} in pixels of the photo
filmcolor image "$photos/1890_hawaii_surfer.jpg" -o surfer_auto.png
filmcolor image "$photos/1890_hawaii_surfer.jpg" -o surfer_hints.png --hints examples/surfer_hints.json
# 2. a reference: a colour photo of similar content lends its colours where the content matches
filmcolor image gray_frame.png -o from_reference.png --reference colour_frame_of_the_same_scene.png
# 3. a film: colour one frame per shot (e.g. with --hints, then touch it up), then the whole film from it
filmcolor video old_movie.mp4 -o color.mp4 --keyframe 0=shot1_colour.png --keyframe 240=shot2_colour.png
# or by hand, on a local page: filmcolor studio old_movie.mp4
