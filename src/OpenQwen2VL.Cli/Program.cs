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
            // Without this, System.CommandLine's default handler would print CliUserException with a stack trace, exit 1.
            return BuildRoot().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliUserException e)
        {
            Console.Error.WriteLine($"oqvl: {e.Message}");
            return 2;
        }
    }
}
