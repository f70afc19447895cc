/** "Teams: main (admin), blue (viewer)" with each team linking to its page. */
import Link from "next/link";

export function TeamLinks({ teams }: { teams: { name: string; role: string }[] }) {
  return (
    <>
      Team{teams.length > 1 ? "s" : ""}:{" "}
      {teams.map((t, i) => (
        <span key={t.name}>
          {i > 0 && ", "}
          <Link href={`/teams/${t.name}`} className="text-indigo-600 hover:underline" data-testid="team-link">
            {t.name}
          </Link>{" "}
          ({t.role})
        </span>
      ))}
    </>
  );
}
