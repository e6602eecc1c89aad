#!/usr/bin/env bash
# Department figures, with Orthanc side by side. Loopback only; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEER=${PEER_DIR:-../shared/peers/orthanc}
export ORTHANC_HTTP_PORT=${ORTHANC_HTTP_PORT:-8062} ORTHANC_DICOM_PORT=${ORTHANC_DICOM_PORT:-4262}
export ORTHANC_STATE_DIR=${ORTHANC_STATE_DIR:-${TMPDIR:-/tmp}/wg-departments-orthanc}
bash "$PEER/start.sh"
trap 'bash "$PEER/stop.sh" --purge' EXIT
ORTHANC_URL="http://127.0.0.1:${ORTHANC_HTTP_PORT}" cargo bench -p wardgate-departments --bench figures
cargo bench -p wardgate-departments --bench departments
