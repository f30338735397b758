using OpenQwen2VL.Fuzz;
using SharpFuzz;

// oqvl-fuzz: the fuzz targets' entry point (fuzz/README.md). `run` is what afl-fuzz starts; the rest is for people.
const string Usage = """
    usage: oqvl-fuzz list
           oqvl-fuzz seeds TARGET FOLDER       write TARGET's seed corpus into FOLDER
           oqvl-fuzz run TARGET                the AFL entry point (input on stdin; started by fuzz/run through afl-fuzz)
           oqvl-fuzz replay [-v] TARGET PATH... run TARGET on files or folders of inputs; exit 1 if any is a finding
                                               (-v: also say whether each input was accepted or refused, and why)
    """;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

FuzzEnvironment env;
try { env = FuzzEnvironment.Locate(); }
catch (DirectoryNotFoundException e) { Console.Error.WriteLine(e.Message); return 2; }

bool verbose = args.Length > 1 && args[0] == "replay" && args[1] == "-v";
if (verbose) args = ["replay", .. args[2..]];

if (args[0] == "list")
{
    foreach (var t in FuzzTargets.All(env)) Console.WriteLine($"{t.Name,-16} {t.Description}");
    return 0;
}

if (args.Length < 2 || FuzzTargets.Find(env, args[1]) is not { } target)
{
    Console.Error.WriteLine(args.Length < 2 ? Usage : $"no fuzz target '{args[1]}' (oqvl-fuzz list shows them)");
    return 2;
}

switch (args[0])
{
    case "seeds" when args.Length == 3:
        Directory.CreateDirectory(args[2]);
        foreach (var (name, data) in target.Seeds(env)) File.WriteAllBytes(Path.Combine(args[2], name), data);
        return 0;

    case "run":
    {
        using var scratch = new FuzzScratch();
        var buffer = new byte[1 << 20];
        Fuzzer.OutOfProcess.Run(stream =>
        {
            int n = 0, r;
            while (n < buffer.Length && (r = stream.Read(buffer, n, buffer.Length - n)) > 0) n += r;
            target.Run(buffer.AsSpan(0, n), scratch);
        });
        return 0;
    }

    case "replay" when args.Length >= 3:
    {
        using var scratch = new FuzzScratch();
        int findings = 0, inputs = 0;
        foreach (var path in FuzzReplay.Inputs(args[2..]))
        {
            inputs++;
            if (FuzzReplay.RunOne(target, File.ReadAllBytes(path), scratch) is { } finding)
            {
                findings++;
                Console.WriteLine($"{path}: {finding}");
            }
            else if (verbose) Console.WriteLine($"{path}: {(ExpectedRefusal.LastRefusal is { } why ? $"refused: {why}" : "accepted")}");
        }
        Console.WriteLine($"{target.Name}: {inputs} inputs, {findings} findings");
        return findings == 0 ? 0 : 1;
    }

    default:
        Console.Error.WriteLine(Usage);
        return 2;
}
