using System.Reflection;
using System.Runtime.InteropServices;
using Spectre.Console;

namespace OpenQwen2VL.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        OpenQwen2VL.Model.Runtime.CpuAllocatorTuning.Apply();   // as the CLI does, so figures match what users get
        OpenQwen2VL.Model.Runtime.OpenMpWaitPolicy.Apply();
        var all = Assembly.GetExecutingAssembly().GetTypes()
            .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
            .OrderBy(b => b.Name).ToList();
        bool quick = args.Contains("--quick");
        var names = args.Where(a => !a.StartsWith("--")).ToList();
        if (names.Count == 0 || names.Contains("list"))
        {
            Console.WriteLine("usage: bench [--quick] NAME... | all");
            int width = all.Max(b => b.Name.Length);
            foreach (var b in all) Console.WriteLine($"  {b.Name.PadRight(width)} {b.Description}");
            return names.Count == 0 ? 2 : 0;
        }
        var chosen = names.Contains("all") ? all : all.Where(b => names.Contains(b.Name)).ToList();
        if (chosen.Count == 0) { Console.Error.WriteLine($"unknown benchmark: {string.Join(", ", names)}"); return 2; }
        AnsiConsole.MarkupLine($"[bold]machine[/]: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}");
        foreach (var b in chosen)
        {
            var table = new Table().Title($"{b.Name}: {b.Description}");
            table.AddColumns("workload", "metric", "value", "unit", "baseline", "ratio");
            foreach (var r in b.Run(quick))
                table.AddRow(Markup.Escape(r.Workload), Markup.Escape(r.Metric), r.Value.ToString("G5"), Markup.Escape(r.Unit),
                    Markup.Escape(r.Baseline ?? ""), r.Ratio is double x ? x.ToString("0.00") + "x" : "");
            AnsiConsole.Write(table);
        }
        return 0;
    }
}
