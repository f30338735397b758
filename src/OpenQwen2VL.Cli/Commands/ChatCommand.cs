using System.CommandLine;
using OpenQwen2VL.Cli.Chat;
using OpenQwen2VL.Cli.Options;

namespace OpenQwen2VL.Cli.Commands;

/// <summary><c>oqvl chat</c>: a terminal conversation with a model (<see cref="ChatSession"/>), tokens shown as they come.</summary>
public sealed class ChatCommand : ICliCommand
{
    public Command Build()
    {
        var model = new ModelOptions();
        var maxNew = CommonOptions.Positive("--max-new-tokens", "most tokens per answer", 256);
        var sampling = new SamplingOptions();
        var cmd = new Command("chat", "Chat with a model in the terminal: /image PATH attaches an image to the next message, /reset, /exit");
        model.AddTo(cmd);
        cmd.Options.Add(maxNew);
        sampling.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var notes = r.InvocationConfiguration.Error;
            using var loaded = model.Load(r, notes);
            var session = new ChatSession(loaded, model.Format(r, loaded, PromptFormatChoice.Plain), sampling.Options(r, r.GetValue(maxNew)), r.InvocationConfiguration.Output, notes);
            if (!Console.IsInputRedirected) notes.WriteLine("type a message; /image PATH attaches an image, /reset forgets, /exit ends");
            session.Run(Console.In, Console.IsInputRedirected ? "" : "> ");
            return 0;
        });
        return cmd;
    }
}
