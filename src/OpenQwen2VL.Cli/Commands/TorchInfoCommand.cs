using System.CommandLine;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Commands;

public sealed class TorchInfoCommand : ICliCommand
{
    public Command Build()
    {
        var cmd = new Command("torch-info", "Print the TorchSharp backend and whether CUDA is available");
        cmd.SetAction(_ =>
        {
            Console.WriteLine($"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}; libtorch CUDA available: {cuda.is_available()}");
            using var t = ones(2, 2);
            Console.WriteLine($"sum(ones(2,2)) = {t.sum().item<float>()}");
            return 0;
        });
        return cmd;
    }
}
