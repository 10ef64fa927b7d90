/**
 * Inserts a catalog row that stands for something made outside the catalog (a destination's
 * repository), so that nobody sees the row before the thing exists, and a name taken in the
 * meantime fails with a unique violation before anything is made where possible.
 */
import type { ObjectLiteral, Repository } from 'typeorm';

export async function insertOnceMade<T extends ObjectLiteral>(rows: Repository<T>, row: T, make: () => Promise<void>): Promise<void> {
  if (rows.manager.connection.options.type === 'postgres') {
    // The uncommitted row holds the name: an insert of it by any instance waits for this commit,
    // then fails on the unique index, having made nothing; a failed `make` rolls the row back.
    await rows.manager.transaction(async (manager) => {
      await manager.insert(rows.target, row);
      await make();
    });
    return;
  }
  // SQLite: one instance, one connection shared by every request, so a transaction held across
  // `make` would take in other requests' writes. The caller serialises its inserts of one name
  // in the process instead, and the row follows what it stands for.
  await make();
  await rows.insert(row);
}
