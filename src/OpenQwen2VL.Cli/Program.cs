using System.CommandLine;
using System.Reflection;
using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Cli;

public static class Program
{
    /// <summary><c>--verbose</c>: on any failure, also print the full exception (with its stack).</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "on failure, also print the full exception", Recursive = true };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("oqvl: the Open-Qwen2VL recipe in .NET: synth -> curate -> pack -> train -> evaluate -> generate");
        root.Options.Add(Verbose);
        var commands = Assembly.GetExecutingAssembly().GetTypes()
            .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => ((ICliCommand)Activator.CreateInstance(t)!).Build())
            .OrderBy(c => c.Name, StringComparer.Ordinal);
        foreach (var c in commands) root.Subcommands.Add(c);
        return root;
    }

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Parses and runs one command line. Bad flags and failures are reported by <see cref="FailureReport"/>: one line on
    /// <paramref name="error"/> (exit code 2 for user errors, 1 for runtime failures), never a stack trace unless --verbose.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0) args = ["--help"];
        OpenQwen2VL.Model.Runtime.CpuAllocatorTuning.Apply();
        OpenQwen2VL.Model.Runtime.OpenMpWaitPolicy.Apply(); // before libtorch loads
        ManifestProducer.Current = new ManifestProducer(CommandLine(args), ManifestProducer.ProgramVersion);
        ParseResult parsed;
        try { parsed = BuildRoot().Parse(args); }
        catch (Exception e) { return Report(e, args.Contains("--verbose"), error); }
        bool helpOrVersion = args.Any(a => a is "-h" or "--help" or "-?" or "--version");
        if (parsed.Errors.Count > 0 && !helpOrVersion)
        {
            // Bad flags: one line naming the problem, not a wall of help text.
            var first = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            var command = parsed.CommandResult.Command;
            string help = command is RootCommand ? "oqvl --help" : $"oqvl {command.Name} --help";
            error.WriteLine($"oqvl: {first.Message} (see: {help})");
            return FailureReport.UserError;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Report(e, parsed.GetValue(Verbose), error);
        }
    }

    static int Report(Exception e, bool verbose, TextWriter error)
    {
        var (code, message) = FailureReport.Describe(e);
        error.WriteLine($"oqvl: {message}");
        if (verbose) error.WriteLine(e);
        return code;
    }

    static string CommandLine(string[] args) =>
        "oqvl " + string.Join(' ', args.Select(a => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./:=,{}+@".Contains(c)) ? a : $"'{a.Replace("'", "'\\''")}'"));
}
