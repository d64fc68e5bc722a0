using Bouncer.Bench;

// Routes by mode so each benchmark family lives in its own file: `jwt` here; `store` and others join the switch.
return args.FirstOrDefault() switch
{
    "jwt" => JwtBench.Run(args[1..]),
    "store" => StoreBench.Run(args[1..]),
    "revocation" => await RevocationBench.RunAsync(args[1..]),
    "logins" => LoginBench.Run(args[1..]),
    "sweep" => await SweepBench.RunAsync(args[1..]),
    "capacity" => await CapacityBench.RunAsync(args[1..]),
    "sqlite-push" => await SqlitePushBench.RunAsync(args[1..]),
    "dpop" => await DpopBench.RunAsync(args[1..]),
    "propagation" => await PropagationBench.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Bouncer.Bench -- jwt [--out bench/results/jwt.md] [--quick] [--alg HS256]");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- store [--redis HOST:PORT] [--postgres CONNSTR] [--out bench/results/store.md]");
    Console.Error.WriteLine("            [--sessions 1000000] [--rounds 5] [--callers 32] [--slice 2] [--sqlite-dir DIR] [--quick]   (or run bench/run-store-bench.sh)");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- sweep [--sessions 1000000] [--families N] [--revocations N] [--batch N] [--stores memory,sqlite,redis,cluster,postgres]");
    Console.Error.WriteLine("            [--redis HOST:PORT] [--redis-cluster HOST:PORT,...] [--postgres CONNSTR] [--out FILE]   (or bench/run-sweep-bench.sh)");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- capacity [--sessions 100000] [--revocations 1000000] [--redis HOST:PORT] [--redis-cluster HOST:PORT,...] [--postgres CONNSTR] [--out FILE]   (or bench/run-capacity-bench.sh)");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- sqlite-push [--count 500] [--out FILE]");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- propagation --servers URL,URL,URL --out FILE [--label NAME] [--count 200] [--load-connections 16]   (or bench/run-propagation-bench.sh)");
    Console.Error.WriteLine("       dotnet run -c Release --project bench/Bouncer.Bench -- logins [--out bench/results/logins.md] [--quick]");
    return 2;
}
