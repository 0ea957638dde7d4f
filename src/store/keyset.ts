/**
 * @module store/keyset: the "past this cursor" predicate of keyset pages.
 *
 * Every paged list orders by a non-unique key with a unique tie-breaker, and the next page is the
 * rows strictly past the last one in that order. Written out as `a op x or (a = x and b op y)`
 * rather than a row-value comparison `(a, b) op (x, y)`, so SQLite and PostgreSQL both plan it as a
 * range on the (a, b) index the same way.
 */
import type { Expression, ExpressionBuilder, OperandValueExpressionOrList, ReferenceExpression, SqlBool } from 'kysely'

/** Rows past (`>` ascending, `<` descending) the cursor (`aValue`, `bValue`) in the order (a, b). */
export function pastCursor<DB, TB extends keyof DB, A extends ReferenceExpression<DB, TB>, B extends ReferenceExpression<DB, TB>>(
  eb: ExpressionBuilder<DB, TB>,
  direction: '>' | '<',
  a: A,
  aValue: OperandValueExpressionOrList<DB, TB, A>,
  b: B,
  bValue: OperandValueExpressionOrList<DB, TB, B>,
): Expression<SqlBool> {
  return eb.or([eb(a, direction, aValue), eb.and([eb(a, '=', aValue), eb(b, direction, bValue)])])
}
