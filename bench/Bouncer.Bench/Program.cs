using Bouncer.Bench;

// Routes by mode so each benchmark family lives in its own file: `jwt` here; `store` and others join the switch.
return args.FirstOrDefault() switch
{
    "jwt" => JwtBench.Run(args[1..]),
    "revocation" => await RevocationBench.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Bouncer.Bench -- jwt [--out bench/results/jwt.md] [--quick] [--alg HS256]");
    return 2;
}
