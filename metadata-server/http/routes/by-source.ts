// The guest answer shared by the OpenStack and EC2 routes, which know a VM by the request's source
// address (or a trusted proxy's signed assertion) rather than by a token in the path.
import type { ServiceContext } from "../context.ts";
import { identify } from "../identify.ts";
import { notFound, type Reply, type RouteRequest } from "../router.ts";

export type IdentifiedVm = NonNullable<ReturnType<typeof identify>["vm"]>;

/**
 * Answers for the VM that sent the request, with the VM's name on the reply for the access log.
 * An unknown source (or another VM's address behind a forged header) learns nothing: 404.
 */
export function withVm(req: RouteRequest<ServiceContext>, answer: (vm: IdentifiedVm) => Reply): Reply {
  const who = identify(req.ctx.snapshot, req.peer, req.headers, req.ctx.identify);
  if (!who.vm) return { ...notFound(who.reason), status: who.status };
  return { ...answer(who.vm), vm: who.vm.name };
}
