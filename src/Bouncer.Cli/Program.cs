using Bouncer.Cli;

return BouncerCli.Run(args, Console.In, Console.Out, Console.Error);
