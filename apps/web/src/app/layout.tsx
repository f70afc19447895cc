import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "PaaS dashboard", template: "%s · PaaS" },
  description: "Apps, releases and build logs",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900">{children}</body>
    </html>
  );
}
