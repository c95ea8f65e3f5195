// The framework's floor: a Fastify route that parses the JSON body and answers 202 with a fixed
// body (no schema, no hooks, no logger), beside bare node:http in the same run.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/', async (_req, reply) => reply.code(202).send({ accepted: 1 }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`listening on ${new URL(address).port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
