import { pino } from 'pino';
import { loadConfig } from './config/config.js';
import { isEmoError } from './domain/errors.js';
import { startRole } from './roles/start.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, name: `emostream-${config.role}` });
  // A stage whose loop dies cannot heal itself: exit non-zero and let the supervisor restart us.
  const pipeline = await startRole(config, {
    logger,
    onFatal: () => {
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    },
  });
  const address = await pipeline.app.listen({ host: config.host, port: config.port });
  const url = address.replace('[::1]', 'localhost');
  logger.info({ role: config.role, url }, 'EmoStream is up');
  process.stdout.write(`\nEmoStream (${config.role}; log=${config.adapters.log}, bus=${config.adapters.bus}) on ${url}  — open it in a browser; Ctrl-C stops.\n\n`);

  // A native Kafka call that never answered holds a thread of libuv's pool, and process.exit()
  // joins that pool: it would wait for ever (an aggregator once outlived its SIGTERM by minutes).
  // Then the process ends itself by SIGKILL, which waits for nothing; its supervisor restarts it.
  const exit = (code: number) => {
    const stuck = pipeline.stuckNativeCalls();
    if (stuck > 0) {
      logger.error({ stuck }, 'a native Kafka call never answered: ending the process with SIGKILL (an exit would wait for it for ever)');
      process.kill(process.pid, 'SIGKILL');
    }
    process.exit(code);
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took over 10 s; exiting');
      exit(1);
    }, 10_000);
    force.unref();
    pipeline.close().then(
      () => exit(process.exitCode === undefined ? 0 : Number(process.exitCode)),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`${isEmoError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
