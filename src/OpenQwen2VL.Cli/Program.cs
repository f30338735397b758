using System.CommandLine;
using System.Reflection;
using OpenQwen2VL.Cli.Commands;

namespace OpenQwen2VL.Cli;

public static class Program
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("oqvl: the Open-Qwen2VL recipe in .NET: curate -> pack -> train -> evaluate -> run");
        var commands = Assembly.GetExecutingAssembly().GetTypes()
            .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => ((ICliCommand)Activator.CreateInstance(t)!).Build())
            .OrderBy(c => c.Name, StringComparer.Ordinal);
        foreach (var c in commands) root.Subcommands.Add(c);
        return root;
    }

    public static int Main(string[] args)
    {
        try
        {
            // Our own handler below turns user errors into one line; System.CommandLine's would print a stack trace.
            if (args.Length == 0) args = ["--help"];
            var parsed = BuildRoot().Parse(args);
            bool helpOrVersion = args.Any(a => a is "-h" or "--help" or "-?" or "--version");
            if (parsed.Errors.Count > 0 && !helpOrVersion)
            {
                // Bad flags: one line naming the problem, not a wall of help text.
                var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
                var command = parsed.CommandResult.Command;
                string help = command is RootCommand ? "oqvl --help" : $"oqvl {command.Name} --help";
                Console.Error.WriteLine($"oqvl: {error.Message} (see: {help})");
                return 2;
            }
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is CliUserException or FileNotFoundException or DirectoryNotFoundException)
        {
            // User errors (bad flag values, missing inputs): one line, no stack trace.
            Console.Error.WriteLine($"oqvl: {e.Message}");
            return 2;
        }
    }
}
