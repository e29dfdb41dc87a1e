import * as path from 'node:path';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type { Construct } from 'constructs';
import { REPO_ROOT } from '../constructs/repo-image';

/** The build context: the directory holds the Dockerfile alone, so nothing else changes the image. */
export const PIPELINE_IMAGE_DIR = path.join(REPO_ROOT, 'ci', 'pipeline-image');

/** Where ci/pipeline-image/Dockerfile puts the pinned k6; every step sets K6_BIN to it. */
export const PIPELINE_IMAGE_K6_BIN = '/usr/local/bin/k6';

/**
 * The CodeBuild image of the synth and gate steps: Node.js, PostgreSQL 15, Redis, OpenSSL and the
 * k6 binary of the pinned official image (ci/pipeline-image/Dockerfile). Built as a CDK image asset
 * when the pipeline stack is deployed, so no step downloads a tool while a release runs.
 */
export function pipelineBuildImage(scope: Construct, id: string): codebuild.IBuildImage {
  return codebuild.LinuxBuildImage.fromAsset(scope, id, {
    directory: PIPELINE_IMAGE_DIR,
    // CodeBuild's LINUX_CONTAINER environments are x86_64.
    platform: Platform.LINUX_AMD64,
  });
}
