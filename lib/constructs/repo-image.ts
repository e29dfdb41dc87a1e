import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, IgnoreMode } from 'aws-cdk-lib';
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
  /** The Dockerfile, relative to the repository root, e.g. `service/Dockerfile`. */
  readonly file: string;
  /**
   * What the Dockerfile may COPY, relative to the repository root, when it has no
   * `<Dockerfile>.dockerignore` of its own (that file, owned with the Dockerfile, wins).
   */
  readonly include: readonly string[];
}

/**
 * The `.dockerignore` rules of an image's context: the Dockerfile's own `<file>.dockerignore` when
 * it has one (the convention BuildKit uses), otherwise "everything but `include`". Either way the
 * asset hash, and so the image tag and the need for a new deployment, changes only when a file the
 * image is built from changes, never for a change in `lib/stacks` or `docs`.
 */
export function imageContextExcludes(options: RepoImageOptions): string[] {
  const own = path.join(REPO_ROOT, `${options.file}.dockerignore`);
  const rules = fs.existsSync(own)
    ? fs
        .readFileSync(own, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'))
    : ['*', ...options.include.map((p) => `!${p}`)];
  // CDK copies only the admitted files before `docker build -f`, so the Dockerfile must be admitted too.
  return [...rules, `!${options.file}`, ...ALWAYS_EXCLUDED];
}

/** The image reference left in the template when the Dockerfile is missing; the synth error blocks its use. */
export const MISSING_DOCKERFILE_IMAGE = 'missing-dockerfile:see-synth-error';

/**
 * An ARM64 image built at deploy time from the repository root with a tight context.
 *
 * A missing Dockerfile is a synth *error* on `scope` (`cdk synth` and `cdk deploy` stop and print
 * what to do), not an exception, so the rest of the app can still be built and tested while the
 * image's owner adds it.
 */
export function repoImage(scope: Construct, options: RepoImageOptions): ecs.ContainerImage {
  if (!fs.existsSync(path.join(REPO_ROOT, options.file))) {
    Annotations.of(scope).addError(
      `${options.file} is missing: this image is built from it at deploy time (build context: the repository root). Add the Dockerfile, or, for the chat API, deploy a pre-built image with service.image = { kind: 'uri', uri } in lib/config/stage-config.ts.`,
    );
    return ecs.ContainerImage.fromRegistry(MISSING_DOCKERFILE_IMAGE);
  }
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
