#!/usr/bin/env bash
# Submits the backfill as an AWS Batch array job of 8 children. Each child
# gets AWS_BATCH_JOB_ARRAY_INDEX (0..7) and AWS_BATCH_JOB_ARRAY_SIZE (8), which
# --shard auto reads. A retried child resumes from its checkpoint on EFS.
set -euo pipefail
aws batch register-job-definition --cli-input-json "file://$(dirname "$0")/aws-batch-job-definition.json"
aws batch submit-job --job-name orgtrail-backfill --job-queue "${QUEUE:-orgtrail}" \
  --job-definition orgtrail-backfill --array-properties size=8
