#!/usr/bin/env bash
# Draws the app and tray icons with ImageMagick (apt: imagemagick) and writes every size
# tauri.conf.json lists. Run from anywhere; the PNGs land next to this script.
#
# App icon: a white envelope on a blue rounded square, with a green check badge (a code
# arrived). Tray icon: the envelope alone, drawn larger, since the badge is unreadable at
# 16-24 px.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

blue='#2563c9'
green='#1f9d55'

convert -size 1024x1024 xc:none \
  -fill "$blue" -draw 'roundrectangle 64,64 960,960 200,200' \
  -fill white -draw 'roundrectangle 212,300 812,724 48,48' \
  -fill none -stroke "$blue" -strokewidth 44 \
  -draw 'stroke-linecap round stroke-linejoin round polyline 262,350 512,540 762,350' \
  -stroke "$blue" -strokewidth 36 -fill "$green" -draw 'circle 760,740 760,918' \
  -fill none -stroke white -strokewidth 52 \
  -draw 'stroke-linecap round stroke-linejoin round polyline 688,745 740,797 834,690' \
  "$work/app.png"

convert -size 1024x1024 xc:none \
  -fill "$blue" -draw 'roundrectangle 32,32 992,992 220,220' \
  -fill white -draw 'roundrectangle 160,250 864,774 64,64' \
  -fill none -stroke "$blue" -strokewidth 70 \
  -draw 'stroke-linecap round stroke-linejoin round polyline 230,330 512,540 794,330' \
  "$work/tray.png"

resize() { convert "$1" -filter Lanczos -resize "$2x$2" -strip "PNG32:$here/$3"; }
resize "$work/app.png" 32 32x32.png
resize "$work/app.png" 128 128x128.png
resize "$work/app.png" 256 128x128@2x.png
resize "$work/app.png" 512 icon.png
resize "$work/tray.png" 64 tray.png
