#!/bin/sh
# Starts Chromium inside the network namespace named by TGNET_NS (Playwright talks to it over
# inherited pipes, which cross namespaces).
exec ip netns exec "$TGNET_NS" "${TGNET_CHROMIUM:-/usr/bin/chromium}" "$@"
