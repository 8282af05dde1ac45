#!/bin/sh
# SeaweedFS for a docgen deployment: one `weed server` (master, volume, filer, S3 gateway).
#
# Two S3 identities, written from the environment at each start:
# - admin (S3_ADMIN_ACCESS_KEY, S3_ADMIN_SECRET_KEY): everything; used once by
#   `docgen storage-init` to make the bucket with versioning and COMPLIANCE object lock;
# - docgen (S3_APP_ACCESS_KEY, S3_APP_SECRET_KEY): what the app needs and no more: read, write
#   and list objects, set their retention, read the bucket's lock settings. It cannot make or
#   delete buckets, turn versioning off, or delete a locked version.
# The filer's and volume server's own HTTP APIs require JWTs signed with keys made fresh at each
# start (without them anyone on the network could delete locked versions behind the S3 gateway).
#
# The other variables are for running it outside a container (docgen's tests do).
set -eu
: "${S3_ADMIN_ACCESS_KEY:?}" "${S3_ADMIN_SECRET_KEY:?}" "${S3_APP_ACCESS_KEY:?}" "${S3_APP_SECRET_KEY:?}"
CONF="${SEAWEED_CONF_DIR:-/etc/seaweedfs}"
DATA="${SEAWEED_DATA_DIR:-/data}"
mkdir -p "$CONF" "$DATA"
umask 077

cat > "$CONF/s3.json" <<JSON
{
  "identities": [
    {
      "name": "admin",
      "credentials": [{"accessKey": "$S3_ADMIN_ACCESS_KEY", "secretKey": "$S3_ADMIN_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    },
    {
      "name": "docgen",
      "credentials": [{"accessKey": "$S3_APP_ACCESS_KEY", "secretKey": "$S3_APP_SECRET_KEY"}],
      "actions": ["Read", "Write", "List", "Tagging", "PutObjectRetention", "GetObjectRetention",
                  "GetBucketObjectLockConfiguration"]
    }
  ]
}
JSON

key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
: > "$CONF/security.toml"
for section in jwt.signing jwt.signing.read jwt.filer_signing jwt.filer_signing.read; do
  printf '[%s]\nkey = "%s"\nexpires_after_seconds = 60\n\n' "$section" "$(key)" >> "$CONF/security.toml"
done

S3_PORT="${S3_PORT:-8333}"
MASTER_PORT="${MASTER_PORT:-9333}"
VOLUME_PORT="${VOLUME_PORT:-8080}"
FILER_PORT="${FILER_PORT:-8888}"
exec "${WEED:-weed}" -logtostderr -config_dir="$CONF" server \
  -dir="$DATA" \
  -ip=127.0.0.1 \
  -ip.bind="${SEAWEED_BIND:-0.0.0.0}" \
  -master.port="$MASTER_PORT" \
  -master.port.grpc="$((MASTER_PORT + 10000))" \
  -master.telemetry=false \
  -volume.port="$VOLUME_PORT" \
  -volume.port.grpc="$((VOLUME_PORT + 10000))" \
  -filer.port="$FILER_PORT" \
  -filer.port.grpc="$((FILER_PORT + 10000))" \
  -s3 \
  -s3.port="$S3_PORT" \
  -s3.port.grpc="$((S3_PORT + 10000))" \
  -s3.port.iceberg=0 \
  -s3.port.lance=0 \
  -s3.config="$CONF/s3.json" \
  -s3.allowDeleteBucketNotEmpty=false \
  -webdav=false
