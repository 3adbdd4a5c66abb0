// envinfo: reports what an AssemblyScript program sees of its process, then counts the lines of stdin.
//
// Output on stdout, one fact per line:
//   argv <count> <argv[0]>
//   env <number of environment variables>
//   HOME <set|unset>
//   bytes <bytes of stdin>
//   lines <newline characters in stdin>
//
// Built with the AssemblyScript compiler and @assemblyscript/wasi-shim (which maps `process`, `console`
// and friends to WASI preview 1 calls); see examples/README.md. `process.env` reads the environment
// with environ_sizes_get and then environ_get even when it is empty, and turns any error into an abort
// (exit 255).

const chunk = new ArrayBuffer(4096);
let bytes = 0;
let lines = 0;
for (;;) {
  const n = process.stdin.read(chunk);
  if (n <= 0) break;
  bytes += n;
  const view = Uint8Array.wrap(chunk, 0, n);
  for (let i = 0; i < n; i++) if (view[i] === 10) lines++;
}

const argv = process.argv;
process.stdout.write('argv ' + argv.length.toString() + ' ' + (argv.length > 0 ? argv[0] : '') + '\n');
process.stdout.write('env ' + process.env.size.toString() + '\n');
process.stdout.write('HOME ' + (process.env.has('HOME') ? 'set' : 'unset') + '\n');
process.stdout.write('bytes ' + bytes.toString() + '\n');
process.stdout.write('lines ' + lines.toString() + '\n');
