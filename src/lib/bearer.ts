// The one check of `Authorization: Bearer <server.auth_token>`, in constant time: comparing with ===
// stops at the first differing character, which a patient attacker on the network can time.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when no token is configured, or the header carries exactly that token. */
export function bearerAllows(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  // hashing first gives equal lengths, so the comparison's time says nothing about the token's length
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}
