#!/usr/bin/env bash
# Submits the backfill as an AWS Batch array job of 8 children. Each child
# gets AWS_BATCH_JOB_ARRAY_INDEX (0..7) and AWS_BATCH_JOB_ARRAY_SIZE (8), which
# --shard auto reads, and lists and reads the bucket itself (orgtrail scan
# s3://..., with the job role's container credentials). A retried child
# resumes from its checkpoint on EFS. Each child also writes the base-rule
# matches of the correlation rules (--correlation-state); a job that depends
# on the whole array (aws-batch-correlate-job-definition.json) joins them into
# the correlation findings of one unsharded run, /out/correlations.ndjson.
#
# Alternative: Mountpoint for Amazon S3. The container then runs privileged
# with /dev/fuse, mounts the bucket (mount-s3 --read-only BUCKET /mnt/s3) and
# scans /mnt/s3/AWSLogs (or --files-from the keys of `aws s3 ls --recursive`
# from inside /mnt/s3); the output, shards and checkpoints are the same.
set -euo pipefail
here=$(dirname "$0")
aws batch register-job-definition --cli-input-json "file://$here/aws-batch-job-definition.json"
aws batch register-job-definition --cli-input-json "file://$here/aws-batch-correlate-job-definition.json"
array=$(aws batch submit-job --job-name orgtrail-backfill --job-queue "${QUEUE:-orgtrail}" \
  --job-definition orgtrail-backfill --array-properties size=8 --query jobId --output text)
# the reduce: starts when every child of the array has succeeded
aws batch submit-job --job-name orgtrail-correlate --job-queue "${QUEUE:-orgtrail}" \
  --job-definition orgtrail-correlate --depends-on "jobId=$array"

