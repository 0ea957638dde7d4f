/** @module cli/progress: a one-line progress bar on stderr when it is a terminal, else a line per 10%. */
export function progress(label: string): (done: number, total: number) => void {
  let lastDecile = -1
  return (done, total) => {
    const frac = total === 0 ? 1 : done / total
    if (process.stderr.isTTY) {
      const width = 30
      const fill = Math.round(frac * width)
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${done === total ? '\n' : ''}`)
    } else {
      const decile = Math.floor(frac * 10)
      if (decile !== lastDecile) process.stderr.write(`${label}: ${done}/${total}\n`)
      lastDecile = decile
    }
  }
}
