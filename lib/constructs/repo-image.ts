import * as fs from 'node:fs';
import * as path from 'node:path';
import { IgnoreMode } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

/** The build context of every image: the repository root, so a Dockerfile can use `lib/contract`. */
export const REPO_ROOT = path.join(__dirname, '..', '..');

/** Never part of an image context, whatever a Dockerfile includes. */
const ALWAYS_EXCLUDED = ['**/node_modules', '**/cdk.out', '**/.git', '**/coverage'];

export interface RepoImageOptions {
  /**
   * The Dockerfile, relative to the repository root, e.g. `service/Dockerfile`. Its context is
   * admitted by the `<Dockerfile>.dockerignore` beside it, which must exist.
   */
  readonly file: string;
}

/**
 * The `.dockerignore` rules of an image's context: the Dockerfile's own `<file>.dockerignore` (the
 * convention BuildKit uses), so `docker build` and the CDK asset send the same files. The asset
 * hash, and so the image tag and the need for a new deployment, changes only when a file the image
 * is built from changes, never for a change in `lib/stacks` or `docs`.
 */
export function imageContextExcludes(options: RepoImageOptions): string[] {
  const own = path.join(REPO_ROOT, `${options.file}.dockerignore`);
  if (!fs.existsSync(own)) {
    throw new Error(
      `${options.file}.dockerignore is missing: add it beside ${options.file}, starting with '*' and admitting ('!path') each path the Dockerfile COPYs, so the image context holds nothing else.`,
    );
  }
  const rules = fs
    .readFileSync(own, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  // CDK copies only the admitted files before `docker build -f`, so the Dockerfile must be admitted too.
  return [...rules, `!${options.file}`, ...ALWAYS_EXCLUDED];
}

/** An ARM64 image built at deploy time from the repository root with a tight context. */
export function repoImage(options: RepoImageOptions): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(REPO_ROOT, {
    file: options.file,
    exclude: imageContextExcludes(options),
    ignoreMode: IgnoreMode.DOCKER,
    platform: ecrAssets.Platform.LINUX_ARM64,
  });
}

const ECR_URI = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)(?::([^@]+))?(?:@(.+))?$/;

/**
 * A pre-built image by URI. An ECR image is referenced as a repository, so the execution role gets
 * pull permissions on that repository only; any other registry is pulled as is.
 */
export function uriImage(scope: Construct, id: string, uri: string): ecs.ContainerImage {
  const m = ECR_URI.exec(uri);
  if (!m) return ecs.ContainerImage.fromRegistry(uri);
  const [, account, region, name, tag, digest] = m;
  const repository = ecr.Repository.fromRepositoryAttributes(scope, id, {
    repositoryName: name,
    repositoryArn: `arn:aws:ecr:${region}:${account}:repository/${name}`,
  });
  return ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag);
}

/** The execution role's `ecr:GetAuthorizationToken` on `*`: that action has no resource-level permissions. */
export function acknowledgeEcrAuthorization(taskDefinition: ecs.TaskDefinition): void {
  NagSuppressions.addResourceSuppressions(
    taskDefinition.obtainExecutionRole(),
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'ecr:GetAuthorizationToken supports no resource-level permissions (Service Authorization Reference); image pulls themselves are limited to the image repository.',
        appliesTo: ['Resource::*'],
      },
    ],
    true,
  );
}
