#!/usr/bin/env bash
# House checks that need no build: formatting (swift-format, strict) and the SPDX header on every source.
set -euo pipefail
cd "$(dirname "$0")/.."

swift format lint --strict --recursive Sources Tests Package.swift

missing=$(find Sources Tests -name '*.swift' -exec grep -L '^// SPDX-License-Identifier: Apache-2.0$' {} + || true)
if [ -n "$missing" ]; then
  echo "missing the SPDX license header (// SPDX-License-Identifier: Apache-2.0):" >&2
  echo "$missing" >&2
  exit 1
fi
echo "validate: format and license headers OK"
